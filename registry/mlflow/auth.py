"""How the MLflow client authenticates: MLFLOW_TRACKING_TOKEN arrives as
`Authorization: Bearer <token>` (the portal's tokens, mlportal.tokens), MLFLOW_TRACKING_USERNAME
and MLFLOW_TRACKING_PASSWORD as HTTP Basic (the portal's users, through Django's
authenticate(), so failed passwords count towards the sign-in throttle of mlportal.throttling
like the admin's and the token endpoint's)."""

from rest_framework import authentication, exceptions

from mlportal import throttling


class ThrottledBasicAuthentication(authentication.BasicAuthentication):
    """HTTP Basic with the portal's users; answers 429 while the client address is throttled
    for failed sign-ins."""

    www_authenticate_realm = "mlportal"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if parts and parts[0].lower() == b"basic":
            self._refuse_when_throttled(throttling.retry_after(request))
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            # The window may have been used up by other sign-ins since the look above.
            self._refuse_when_throttled(throttling.refused_wait(request))
            raise

    @staticmethod
    def _refuse_when_throttled(wait):
        if wait is not None:
            raise exceptions.Throttled(wait, detail=throttling.too_many_sign_ins(wait))
