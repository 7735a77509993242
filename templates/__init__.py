"""Text templates (function.yaml skeleton, Dockerfile, source bootstrap), read through importlib.resources."""
