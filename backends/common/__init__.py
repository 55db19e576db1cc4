"""Code shared by sibling backends: exact integer stage composition on one sparse format.

A backend may import ``snnc.backends.common`` but never another backend; nothing here knows a
target.
"""
