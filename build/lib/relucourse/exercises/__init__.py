"""Exercise checkers, one module per chapter: ``relucourse.exercises.ch01`` and so on.

Every checker follows :mod:`relucourse.checking`: it prints a line starting with
✅ when the answer is right and raises ``CheckFailed`` with a message naming
the failing input, the expected and the returned value otherwise.
"""
