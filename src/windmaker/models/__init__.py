"""Models over the warehouse: each module builds Ibis expressions and fits or scores plain tables.

Every model is called by its own function (``clv.fit_market``, ``matching.fit_matching``,
``brushing.detect_brushing``, ...) from the service that needs it; none is looked up by name.
"""
