"""YAML texts shared by the loader tests."""

NODES = """\
tasks:
  - name: Task1
    import: myproject.tasks
    storage: S1
  - name: Task2
    import: myproject.tasks
flows: [flow1, flow2]
storages:
  - name: S1
    import: myapp.storages
    classname: MyStorage
    configuration: {echo: false}
"""
"""A nodes file with two tasks (``Task1`` stores into ``S1``) and the flows ``flow1``, ``flow2``."""
