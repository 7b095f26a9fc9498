"""HTTP edge of the compliance archive (/api/v1/archive/): one module per area."""
