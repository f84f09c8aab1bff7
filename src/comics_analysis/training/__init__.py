"""Training loops and their data (Accelerate); one module per model (DESIGN 2)."""
