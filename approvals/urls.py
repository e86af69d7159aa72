from django.urls import path

from . import apis

urlpatterns = [
    path("<int:change_id>", apis.ChangeDetailApi.as_view(), name="changes-detail"),
    *(
        path(f"<int:change_id>/{step}", apis.ChangeStepApi.as_view(step=step), name=f"changes-{step}")
        for step in ("approve", "reject", "apply")
    ),
]
