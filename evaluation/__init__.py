"""Offline evaluation of the recommendation tools: rating prediction, top-N and cold start (`convrec eval offline`)."""
