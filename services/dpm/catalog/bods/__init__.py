"""BODS (Beneficial Ownership Data Standard) in and out of the catalog. No gRPC here.

    model       one model for 0.4 and 0.3 statements (records, interests, shares as fractions)
    reading     JSON text of one statement -> model, or a Problem naming the field
    validation  across the call: duplicates, records, references, component/replacement cycles
    ids         organization slugs and event ids derived from BODS ids (re-imports land on them)
    mapping     checked statements -> parties to create and ownership events to record
    importer    read -> check -> plan -> apply, inside the caller's transaction
    export      the graph as of a date -> BODS 0.4 statements

The servicer (``dpm.catalog.bods_servicer``) receives and sends statements as
JSON text and opens the transactions.
"""
