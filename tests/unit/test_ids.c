/* The one id rule (lib/ids.h) that user, client, purchase and request ids
 * and token claims share. */
#include <string.h>

#include "lib/ids.h"
#include "suites.h"

START_TEST(ids_of_one_to_id_max_characters_pass) {
  char longest[ID_MAX + 2];
  memset(longest, 'a', ID_MAX);
  longest[ID_MAX] = '\0';
  ck_assert(id_is_valid("a", ID_PLAIN));
  ck_assert(id_is_valid("A-z_09", ID_PLAIN));
  ck_assert(id_is_valid(longest, ID_PLAIN));
  longest[ID_MAX] = 'a';
  longest[ID_MAX + 1] = '\0';
  ck_assert(!id_is_valid(longest, ID_PLAIN));
  ck_assert(!id_is_valid("", ID_PLAIN));
  ck_assert(!id_is_valid(NULL, ID_DOTTED));
}
END_TEST

START_TEST(the_dot_is_allowed_only_where_asked_for) {
  ck_assert(id_is_valid("checkout.eu", ID_DOTTED));
  ck_assert(!id_is_valid("checkout.eu", ID_PLAIN));
  ck_assert(!id_is_valid("a b", ID_DOTTED));
  ck_assert(!id_is_valid("a,b", ID_DOTTED));
  ck_assert(!id_is_valid("\xc3\xa9", ID_DOTTED));
  ck_assert(id_is_valid_n("ab,cd", 2, ID_PLAIN));
  ck_assert(!id_is_valid_n("ab,cd", 3, ID_PLAIN));
  ck_assert_str_eq(ID_RULE, "1 to 64 characters of A-Z a-z 0-9 _ -");
}
END_TEST

Suite *suite_ids(void) {
  Suite *suite = suite_create("ids");
  TCase *tc = tcase_create("rule");
  tcase_add_test(tc, ids_of_one_to_id_max_characters_pass);
  tcase_add_test(tc, the_dot_is_allowed_only_where_asked_for);
  suite_add_tcase(suite, tc);
  return suite;
}
