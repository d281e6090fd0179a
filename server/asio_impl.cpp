// The compiled parts of Asio and Beast, built once for every target that links jobs_asio
// (BOOST_ASIO_SEPARATE_COMPILATION and BOOST_BEAST_SEPARATE_COMPILATION are set globally).
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
