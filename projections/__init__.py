"""The read model: one module per view, plus the runner that keeps them caught up."""
