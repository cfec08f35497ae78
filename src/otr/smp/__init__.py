"""smp package."""
