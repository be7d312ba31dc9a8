"""The use cases: what windmaker does, one function each, given the warehouse and the configs.

The CLI, the API, the web and the main job (:mod:`windmaker.services.run`) call these; they
execute through :mod:`windmaker.warehouse` and show nothing themselves (progress is a callback).
"""
