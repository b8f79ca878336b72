"""Transfer orders: stock moving between two locations of the network (docs/transfers.md).

``models`` (the order, its lines and receipts, the transition table), ``services`` (create, ship,
receive, cancel: the ledger's ``transfer_out`` and ``transfer_in`` rows), ``selectors`` (reads,
what an actor may see, units in transit for ATP)."""
