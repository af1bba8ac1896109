import AxleFleet

AxleFleetCommand.main()
