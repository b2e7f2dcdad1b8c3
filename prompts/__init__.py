"""Prompt text files, loaded by name through convrec.agent.prompts."""
