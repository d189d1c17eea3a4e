"""The use cases: talk, listen live, timeline, replay, react, export.

Nothing here prints or touches a sound device directly; the CLI and the GUI
observe what these return or yield.
"""
