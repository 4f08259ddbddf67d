"""Parts every portal adapter shares: the Issue model, validation against a declarative field
spec, image-URI checks, text-encoding detection, spreadsheet safety (formula neutralisation,
zip-bomb limits), workbook header tables, category mapping and the clothing notice.

A portal package (``adapters/<portal>``) holds only what is specific to that portal's format.
"""
