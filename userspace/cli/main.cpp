#include "commands.hpp"

int main(int argc, char **argv)
{
    return rg::cli::run(argc, argv);
}
