"""Loyalty points, the kernel's account per customer (docs/loyalty.md): ``models`` (imported by
``oms.models``), ``services`` (earn, burn, expire, reverse, repair), ``selectors`` (reads) and
``subscribers`` (earning on ``payment.captured`` and ``order.completed``, in their transactions)."""
