"""What the nightly run and the review app both need.

Data paths, the published reader, operator state (runs, decisions, audit,
accounts), exports and charts. Beneath flows and review, above reconcile and schemas.
"""
