"""Private infrastructure shared by every layer of fastopt.

``validation`` (argument checks that raise ``TypeError``/``ValueError`` naming the
argument) and ``random`` (seeds and generators).  Nothing here imports any other part
of fastopt: every other package may import from here, never the reverse.
"""
