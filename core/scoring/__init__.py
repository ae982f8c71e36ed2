"""Scoring with the champion: one row with its reasons (:mod:`core.scoring.single`), files in
chunks with resume (:mod:`core.scoring.batch`), the prediction ledger (:mod:`core.scoring.ledger`)
and spreadsheet-safe CSV output (:mod:`core.scoring.files`).

The input contract is :mod:`core.contract`, which version serves :mod:`core.champion`.
"""
