# The sources of libestiva-core (everything of estiva-server and estiva-admin but their main()), in one
# list: server/CMakeLists.txt builds the library from it and tests/fuzz/CMakeLists.txt compiles the same
# files with the fuzzer's instrumentation for fuzz_routes.
set(ESTIVA_CORE_SOURCES config.c catalog.c catalog_db.c stay.c db.c members.c auth.c booking.c api.c http.c
  reply.c request.c metrics.c cmi.c payment.c qr.c passes.c manage.c sync.c gates.c check.c password.c
  hashpool.c outbox.c mail.c receipts.c calendar.c account.c)
