"""The generic nuclio handler that goes inside every fnpack function (stdlib + fnpack runtime only)."""
