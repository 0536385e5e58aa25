#include "base/text.h"

#include <catch2/catch.hpp>

using namespace dcos;

TEST_CASE("editDistance counts single-character edits", "[text]") {
  CHECK(text::editDistance("", "") == 0);
  CHECK(text::editDistance("master", "master") == 0);
  CHECK(text::editDistance("mastr", "master") == 1);
  CHECK(text::editDistance("kitten", "sitting") == 3);
  CHECK(text::editDistance("", "abc") == 3);
  CHECK(text::editDistance("nmae", "name") == 1);
}

TEST_CASE("nearest suggests only plausible typos", "[text]") {
  std::vector<std::string> keys{"cluster_name", "masters", "zones", "resolvers"};
  CHECK(text::nearest("mastres", keys) == "masters");
  CHECK(text::nearest("resolver", keys) == "resolvers");
  CHECK(text::nearest("cluster-name", keys) == "cluster_name");
  CHECK(text::nearest("completely_else", keys).empty());
  CHECK(text::nearest("x", {}).empty());
}

TEST_CASE("quote escapes for JSON", "[text]") {
  CHECK(text::quote("a\"b\\c\n") == "\"a\\\"b\\\\c\\n\"");
  CHECK(text::quote(std::string("\x01", 1)) == "\"\\u0001\"");
}

TEST_CASE("a URL query: decoded, a repeated key keeps every value in order", "[text]") {
  auto q = dcos::text::parseQuery("embed=apps.tasks&embed=apps.counts&path=a%2Fb+c&flag&bad=%zz&=x");
  CHECK(q["embed"] == std::vector<std::string>{"apps.tasks", "apps.counts"});
  CHECK(q["path"] == std::vector<std::string>{"a/b c"});
  CHECK(q["flag"] == std::vector<std::string>{""});
  CHECK(q["bad"] == std::vector<std::string>{"%zz"});
  CHECK(q[""] == std::vector<std::string>{"x"});
  CHECK(dcos::text::parseQuery("").empty());
  CHECK(dcos::text::parseQuery("a=%4").at("a") == std::vector<std::string>{"%4"});
}
