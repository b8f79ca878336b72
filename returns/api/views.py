from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from oms.actors import Actor
from oms.api.viewsets import NewestFirstViewSet, checked_body
from oms.authentication import actor_from_request
from oms.errors import MalformedInput
from oms.permissions import IsStaff, IsStaffOrChannel, IsStaffOrInPersonChannel
from oms.staff import staff_actor_for_associate
from orders.services import IdempotencyClaim, idempotency_request_hash
from returns import services
from returns.selectors import return_detail, return_detail_queryset, return_queryset_for_actor

from .filters import ReturnFilter
from .serializers import (
    EmptyInput,
    RefundCreateOutput,
    ReturnCancelInput,
    ReturnCreateInput,
    ReturnOutput,
    ReturnReceiveInput,
    ReturnRefundInput,
    refund_created_dict,
)

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Optional: a repeat with the same key and body answers the first result instead of "
    "doing it twice; another body under the same key is 422 idempotency_key_reused.",
)


def _idempotency_claim(request: Request, actor: Actor, *, scope: str) -> IdempotencyClaim | None:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        return None
    if len(key) > 255 or not key.isprintable():
        raise MalformedInput(
            "Idempotency-Key must be at most 255 printable characters.", code="invalid_idempotency_key"
        )
    who = f"client:{actor.api_client_id}" if actor.is_channel else f"user:{actor.user_id}"
    return IdempotencyClaim(
        scope=f"{scope}:{who}"[:64], key=key, request_hash=idempotency_request_hash(request.data)
    )


def _replayed(response: Response, replayed: bool) -> Response:
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response


class ReturnViewSet(NewestFirstViewSet):
    """Returns (RMA) of any order from any channel. Staff see every return; a channel client sees the
    returns made through it and those of its orders (in-person channels may look up any by id)."""

    permission_classes = [IsStaffOrChannel]
    serializer_class = ReturnOutput
    filterset_class = ReturnFilter

    def get_queryset(self):
        return return_detail_queryset(return_queryset_for_actor(actor_from_request(self.request)))

    def _output(self, return_id: int, actor: Actor) -> dict:
        return ReturnOutput(return_detail(return_id=return_id, actor=actor)).data

    def retrieve(self, request, pk=None):
        actor = actor_from_request(request)
        return Response(self._output(pk, actor))

    @extend_schema(
        request=ReturnCreateInput,
        responses={201: ReturnOutput},
        parameters=[IDEMPOTENCY_HEADER],
        description="Open a return for shipped or collected units of an order, at a location that "
        "accepts returns. 409 return_exceeds_returnable (with what each line may still return), 409 "
        "return_window_expired (a manager may pass override_window), 422 "
        "location_not_accepting_returns. With exchange_lines a new order is placed on the returning "
        "channel (pickup at the receiving store if it has the units, else shipped to the order's "
        "address); if it cannot be sourced (409 insufficient_stock) nothing is written.",
    )
    def create(self, request):
        actor = actor_from_request(request)
        claim = _idempotency_claim(request, actor, scope="return")
        body = checked_body(ReturnCreateInput, request)
        result = services.return_create(actor=actor, idempotency=claim, **body.service_kwargs())
        response = Response(self._output(result.rma.pk, actor), status=201)
        return _replayed(response, result.replayed)

    @extend_schema(
        request=ReturnReceiveInput,
        responses={200: ReturnOutput},
        description="Receive units at the return's location, each with a disposition: restock (on hand "
        "there, with a ledger row) or damaged (recorded only). Associates only at their locations; an "
        "in-person channel key (POS) for the associate it names in 'associate', who must work there.",
    )
    @action(detail=True, methods=["post"], permission_classes=[IsStaffOrInPersonChannel])
    def receive(self, request, pk=None):
        actor = actor_from_request(request)
        body = checked_body(ReturnReceiveInput, request)
        staff = staff_actor_for_associate(actor=actor, associate=body.validated_data["associate"])
        rma = services.return_receive(return_id=pk, lines=body.service_lines(), actor=staff)
        return Response(self._output(rma.pk, actor))

    @extend_schema(
        request=ReturnRefundInput,
        responses={201: RefundCreateOutput},
        parameters=[IDEMPOTENCY_HEADER],
        description="Record a refund (original payment, store credit or cash) for the payment system: "
        "up to what was paid for the order minus earlier refunds; beyond it 409 refund_exceeds_paid "
        "with extra.refundable. Managers, or associates at the return's location; an in-person channel "
        "key (POS) for the associate it names in 'associate', who must work there.",
    )
    @action(detail=True, methods=["post"], permission_classes=[IsStaffOrInPersonChannel])
    def refund(self, request, pk=None):
        actor = actor_from_request(request)
        claim = _idempotency_claim(request, actor, scope="refund")
        body = checked_body(ReturnRefundInput, request)
        staff = staff_actor_for_associate(actor=actor, associate=body.validated_data["associate"])
        result = services.return_refund(return_id=pk, actor=staff, idempotency=claim, **body.service_kwargs())
        data = refund_created_dict(result.refund, refundable=result.refundable)
        return _replayed(Response(data, status=201), result.replayed)

    @extend_schema(request=ReturnCancelInput, responses={200: ReturnOutput})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Withdraw a return before anything was received or refunded (cancels its exchange order)."""
        actor = actor_from_request(request)
        body = checked_body(ReturnCancelInput, request)
        rma = services.return_cancel(return_id=pk, actor=actor, reason=body.validated_data["reason"])
        return Response(self._output(rma.pk, actor))

    @extend_schema(request=EmptyInput, responses={200: ReturnOutput})
    @action(detail=True, methods=["post"], permission_classes=[IsStaff])
    def close(self, request, pk=None):
        """Finish a return: no more receipts or refunds."""
        actor = actor_from_request(request)
        rma = services.return_close(return_id=pk, actor=actor)
        return Response(self._output(rma.pk, actor))
