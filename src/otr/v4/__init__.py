"""v4 package."""
