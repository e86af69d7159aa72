"""Declarations the middleware cannot see, which the start-up check must refuse."""

from django.http import JsonResponse
from django.urls import path
from django.views import View

from golive.execution import execution_class
from golive.models import ExecutionClass


class PlaceOfferView(View):
    def post(self, request):
        return self.place(request)

    @execution_class(ExecutionClass.PROD_EXEC)  # a helper, not a handler: never gated
    def place(self, request):
        return JsonResponse({"placed": True})


@execution_class(ExecutionClass.PROD_EXEC)
def settle_trade(request):
    return JsonResponse({"settled": True})


urlpatterns = [
    path("engine/place-offer", PlaceOfferView.as_view()),
    path("api/governance/engine/settle", settle_trade),  # under an ungated prefix: never gated
]
