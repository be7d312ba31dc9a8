"""Growth diagnosis: ladder stage, bottleneck, action plan and operator portfolio per brand."""
