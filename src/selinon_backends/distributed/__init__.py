"""Pieces every distributed runtime shares (Kombu today, Celery next).

* :mod:`.messages`: the bytes of a task or event message (the wire envelope, small);
* :mod:`.journal`: what each node of a flow did, for reports and ``status``;
* :mod:`.delays`: delayed messages that survive restarts;
* :mod:`.backends`: opening the flow-state store, slot store, journal and delay store of a
  state-store URL together;
* :mod:`.reports`: a flow's report (the JSON of ``execute --report``) from the stores.
"""
