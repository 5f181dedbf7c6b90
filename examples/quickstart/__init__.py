"""The quickstart example: two tasks, one storage, one flow."""
