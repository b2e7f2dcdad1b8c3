"""Tool failures an agent can read: bad arguments become an observation, never a crash."""


class ToolError(ValueError):
    """A tool was called with arguments it cannot use; agents turn it into an observation."""
