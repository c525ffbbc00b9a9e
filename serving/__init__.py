"""A request's life in the HTTP face: read and validate, admit, plan, schedule, synthesize, respond.

Framework glue stays in service.py; the engine's work stays in engine/. Each module here owns one
step, and data flows one way: app -> lifecycle -> (request, admission, plan, synthesize) -> respond.
"""
