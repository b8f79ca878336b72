from oms.errors import Conflict, InvalidInput


class InsufficientPoints(Conflict):
    default_code = "insufficient_points"
    default_message = "The customer does not have that many points."


class LoyaltyNotOffered(InvalidInput):
    default_code = "loyalty_not_offered"
    default_message = "This channel has no active loyalty rule."
