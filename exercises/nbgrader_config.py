"""nbgrader settings for the minirpc labs: copy these lines into your course's nbgrader_config.py.

With them, ``nbgrader generate_assignment`` releases exactly the student
copies that exercises/make_student.py writes (the same stub text, so a stub
that runs on a server still says "not implemented yet"), and ``autograde``
gives the same scores as exercises/grade.py.  See exercises/README.md.
"""

c = get_config()  # noqa: F821 -- nbgrader provides get_config
c.CourseDirectory.course_id = "minirpc"
c.ClearSolutions.code_stub = {"python": '# YOUR CODE HERE\nraise NotImplementedError("not implemented yet")'}
c.Execute.timeout = 120  # seconds per cell, as grade.py's --cell-timeout
c.Execute.interrupt_on_timeout = True
