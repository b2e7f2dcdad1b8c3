"""Foundation shared by every layer: typed settings and the error type the CLI and servers report."""
