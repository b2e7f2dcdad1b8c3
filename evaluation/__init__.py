"""Evaluation: the recommendation tools offline (`convrec eval offline`), and the whole agent through dialogue: ReDial
replay (`convrec eval dialogues`) and simulated users (`convrec eval simulate`)."""
