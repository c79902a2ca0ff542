"""Community membership events: who joined or left which community, and when (02)."""
