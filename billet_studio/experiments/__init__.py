"""The paper's experiment grid end to end: nested datasets, training, detection and
evaluation per cell, the Table 3 layout and plots."""
