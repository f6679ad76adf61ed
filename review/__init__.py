"""The operators' web app: routers for log-in, the work queue and item pages, user admin and export."""
