"""v3 package."""
