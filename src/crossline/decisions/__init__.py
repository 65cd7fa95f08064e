"""Credit decisions: applications, authorisations and account management.

Every decision reads one lender group's view of the borrower (DESIGN §9),
scores it, runs the group's policy (``crossline.policy``) and is stored with
the policy version, the arm (champion or challenger), the inputs, the outputs
and the reasons, so that it can be explained to the borrower and replayed.
"""
