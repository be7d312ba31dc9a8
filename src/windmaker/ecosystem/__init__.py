"""The service-provider ecosystem (服务商生态): admission, evaluation, exit, tiers, matching.

Pure domain logic over typed records and pandas frames; the store and the warehouse are read and
written by the CLI and the API, never from here.
"""
