"""An engine's own views, declaring their execution class, for the middleware tests."""

from django.http import JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.decorators import api_view, authentication_classes, permission_classes
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


urlpatterns = [
    path("engine/place-offer", place_offer),
    path("engine/offers", read_offers),
    path("engine/sandbox-offer", sandbox_offer),
    path("engine/route-capital", RouteCapitalApi.as_view()),
    path("engine/match-buyer", match_buyer),
    path("", include("governance_site.urls")),
]
