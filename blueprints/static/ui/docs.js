/* GET /docs: Swagger UI over the app's own /openapi.json (nothing is fetched from elsewhere). */
(function () {
  "use strict";
  const base = document.body.dataset.static.replace(/static\/$/, "");
  window.swaggerUi = SwaggerUIBundle({
    url: base + "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null, // no call to the public validator
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
  });
})();
