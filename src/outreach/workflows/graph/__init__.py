"""The canvas: its format, its validation, and the compiled graph the engine walks."""
