"""An engine's own views, declaring their execution class, for the middleware tests."""

from django.http import JsonResponse
from django.urls import include, path
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from rest_framework import routers, viewsets
from rest_framework.decorators import action, api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from golive.execution import execution_class
from golive.models import ExecutionClass


@csrf_exempt
@execution_class(ExecutionClass.PROD_EXEC)
def place_offer(request):
    return JsonResponse({"placed": True})


def read_offers(request):
    return JsonResponse({"offers": []})


@execution_class(ExecutionClass.SANDBOX)
def sandbox_offer(request):
    return JsonResponse({"sandbox": True})


class RouteCapitalApi(APIView):
    execution_class = ExecutionClass.PROD_EXEC
    permission_classes = [AllowAny]
    authentication_classes = []

    def post(self, request):
        return Response({"routed": True})


@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
@execution_class(ExecutionClass.PROD_EXEC)
def match_buyer(request):
    return Response({"matched": True})


@method_decorator(csrf_exempt, name="dispatch")
class OfferView(View):
    """A class-based view whose POST is production execution and whose GET only reads."""

    def get(self, request):
        return JsonResponse({"offers": []})

    @execution_class(ExecutionClass.PROD_EXEC)
    def post(self, request):
        return JsonResponse({"placed": True})


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(execution_class(ExecutionClass.PROD_EXEC), name="post")
class BidView(View):
    def post(self, request):
        return JsonResponse({"bid": True})


class RouteApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @method_decorator(execution_class(ExecutionClass.PROD_EXEC))
    def post(self, request):
        return Response({"routed": True})


class CapitalViewSet(viewsets.ViewSet):
    permission_classes = [AllowAny]
    authentication_classes = []

    def list(self, request):
        return Response([])

    @execution_class(ExecutionClass.PROD_EXEC)
    @action(detail=False, methods=["post"])
    def allocate(self, request):
        return Response({"allocated": True})

    @action(detail=False, methods=["post"])
    @execution_class(ExecutionClass.PROD_EXEC)
    def rebalance(self, request):
        return Response({"rebalanced": True})

    @execution_class(ExecutionClass.PROD_EXEC)
    def create(self, request):
        return Response({"created": True})


router = routers.SimpleRouter(trailing_slash=False)
router.register("engine/capital", CapitalViewSet, basename="capital")

urlpatterns = [
    path("engine/offer-view", OfferView.as_view()),
    path("engine/bid-view", BidView.as_view()),
    path("engine/route", RouteApi.as_view()),
    *router.urls,
    path("engine/place-offer", place_offer),
    path("engine/offers", read_offers),
    path("engine/sandbox-offer", sandbox_offer),
    path("engine/route-capital", RouteCapitalApi.as_view()),
    path("engine/match-buyer", match_buyer),
    path("", include("governance_site.urls")),
]
