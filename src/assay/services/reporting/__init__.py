"""Results and the read models built from them: a submission's results, the
student's coursework, the staff gradebook, analytics and exports."""
