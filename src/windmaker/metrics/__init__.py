"""STEPS metrics: every capability defined once as Ibis expressions over the contract tables."""
