"""The library's own small hazmat layer: thin wrappers over maintained primitives."""
