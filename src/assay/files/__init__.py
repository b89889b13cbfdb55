"""Files as Assay passes them between layers: the name rule and the one file set type.

``names`` is the rule every submitted file name follows; ``fileset`` is the
immutable set of files a submission travels in, from intake through storage to
the sandbox. Below storage and the sandbox so every layer uses the same type;
imports only ``assay.errors``.
"""
